// What the command loop needs from where people type and read: a terminal (terminal.ts) or
// a script's stdin and stdout (script.ts). The loop and the actions see only this.

export interface AskOptions {
  /** Not echoed and never kept in the history (passwords). */
  secret?: boolean;
}

export interface Io {
  /**
   * The next line for the command loop, in the order typed or pasted. Lines entered while an
   * earlier command is still running wait in a queue: none is ever dropped. Null at the end
   * of input (Ctrl+D or Ctrl+C at the main prompt, end of stdin).
   */
  nextLine(): Promise<string | null>;
  /**
   * A sub-prompt's answer: the next line from the same queue, read under `prompt`. Null
   * when the prompt is cancelled (Ctrl+C) or at the end of input.
   */
  ask(prompt: string, options?: AskOptions): Promise<string | null>;
  /** New passwords are asked twice on a terminal, once in a script. */
  readonly confirmSecrets: boolean;
  /**
   * Script mode: the answers to prompts are the following lines, written in advance; a
   * command refused before its prompts must still read them (terminal: false).
   */
  readonly scripted: boolean;
  /** Script mode: a line read as an answer that is a command after all is read again next. */
  putBack?(line: string): void;
  /**
   * Writes one whole line of output (on a terminal, above the input area, which is then
   * redrawn as it was). Lines appear in call order. Resolves once the bytes have been handed
   * to the operating system: a delivered message is confirmed to the server only then.
   */
  print(line: string): Promise<void>;
  /** The main prompt, e.g. "alice → bob> "; takes effect at once. */
  setPrompt(prompt: string): void;
  /** An account name seen (a sender, a /list result, a target), offered by Tab completion. */
  rememberName(name: string): void;
  /**
   * Stops taking input and hands back the lines entered and not yet read (after /quit, or
   * when the server is lost), so the loop can say of each that it was not done.
   */
  takeUnread(): string[];
  /** Stops reading input and leaves the terminal as it was, the cursor on a fresh line. */
  close(): void;
}
