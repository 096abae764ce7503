// Errors of the wire layer. Each says what was wrong with the bytes, never where in our code.

/** The bytes on the wire cannot be a frame or a message of this protocol. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** A length prefix announced a frame bigger than the connection accepts. */
export class FrameTooLargeError extends ProtocolError {
  override name = "FrameTooLargeError";
  constructor(
    readonly declared: number,
    readonly max: number,
  ) {
    super(
      declared > max * 16
        ? `frame length prefix announces more than ${max} bytes (the maximum frame size)`
        : `frame of ${declared} bytes is over the maximum frame size of ${max} bytes`,
    );
  }
}
