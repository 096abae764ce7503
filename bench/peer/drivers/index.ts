// Driver registry: --driver <name> picks one of these.

import { chatDriver } from "./chat";
import { mqttDriver } from "./mqtt";
import { rawDriver } from "./raw";
import type { DriverFactory } from "./types";

export const DRIVERS: Record<string, DriverFactory> = {
  chat: chatDriver,
  mqtt: mqttDriver,
  raw: rawDriver,
};
