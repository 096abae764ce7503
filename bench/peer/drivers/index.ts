// Driver registry: --driver <name> picks one of these.
// To add the chat project's driver: write drivers/chat.ts exporting
// `chatDriver(cfg): Driver` and add `chat: chatDriver` below (see README.md).

import { mqttDriver } from "./mqtt";
import { rawDriver } from "./raw";
import type { DriverFactory } from "./types";

export const DRIVERS: Record<string, DriverFactory> = {
  mqtt: mqttDriver,
  raw: rawDriver,
};
