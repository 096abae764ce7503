// Opcode → handler. An opcode missing here is answered with UNKNOWN_OPCODE.

import { Op } from "../../wire";
import { ack } from "./ack";
import { check } from "./check";
import { create } from "./create";
import { deleteAccount } from "./delete";
import type { Handler } from "./handler";
import { list } from "./list";
import { login } from "./login";
import { ping } from "./ping";
import { quit } from "./quit";
import { resume } from "./resume";
import { send } from "./send";

export const HANDLERS: Readonly<Record<number, Handler>> = {
  [Op.CREATE_ACCOUNT]: create,
  [Op.LOG_IN]: login,
  [Op.SEND_MESSAGE]: send,
  [Op.CHECK_MESSAGES]: check,
  [Op.DELETE_ACCOUNT]: deleteAccount,
  [Op.LIST_ACCOUNTS]: list,
  [Op.QUIT]: quit,
  [Op.ACK]: ack,
  [Op.PING]: ping,
  [Op.RESUME]: resume,
};

export type { Handler };
