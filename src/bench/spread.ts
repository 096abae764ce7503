// Where the bench's clients go when it targets several nodes: pair i's sender on node
// i mod N and its receiver on the next node, so with two or more nodes every message
// crosses from one node to another, and each node carries as many senders as receivers.

export interface PairPlace {
  sender: number;
  receiver: number;
}

export function pairPlace(i: number, nodes: number): PairPlace {
  const sender = i % nodes;
  return { sender, receiver: nodes > 1 ? (i + 1) % nodes : sender };
}

/** A client that is not part of a pair (idle, conns, login): round robin. */
export function clientPlace(i: number, nodes: number): number {
  return i % nodes;
}
