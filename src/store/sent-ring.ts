// The memory store's de-duplication records: for each sender, the client_msg_ids of its
// last N messages stored with one, in a ring. A client resends only what the server had
// not answered, at most its N unanswered SENDs, so the ring always holds their originals,
// and the state stays N records per sender however many messages pass through.

export interface SentRecord<M> {
  clientMsgId: number;
  message: M;
  recipientId: number;
}

class Ring<M> {
  slots: SentRecord<M>[] = [];
  next = 0;
  slotOf = new Map<number, number>();
}

export class SentRings<M> {
  private rings = new Map<number, Ring<M>>();

  constructor(private readonly perSender: number) {}

  find(senderId: number, clientMsgId: number): SentRecord<M> | undefined {
    const ring = this.rings.get(senderId);
    const slot = ring?.slotOf.get(clientMsgId);
    return slot === undefined ? undefined : ring!.slots[slot];
  }

  /** Remembers a stored message, forgetting the sender's oldest record once N are held. */
  remember(senderId: number, record: SentRecord<M>): void {
    let ring = this.rings.get(senderId);
    if (!ring) {
      ring = new Ring<M>();
      this.rings.set(senderId, ring);
    }
    const slot = ring.next;
    const old = ring.slots[slot];
    if (old) ring.slotOf.delete(old.clientMsgId);
    ring.slots[slot] = record;
    ring.slotOf.set(record.clientMsgId, slot);
    ring.next = (slot + 1) % this.perSender;
  }

  forget(senderId: number): void {
    this.rings.delete(senderId);
  }
}
