// Errors of the wire layer. Each says what was wrong with the bytes, never where in our code.

/** The bytes on the wire cannot be a frame or a message of this protocol. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** A length prefix announced a frame bigger than the connection accepts. */
export class FrameTooLargeError extends ProtocolError {
  override name = "FrameTooLargeError";
  /**
   * @param declared the length read so far: the frame's size when the prefix is complete,
   *   a lower bound when the prefix was cut short because it already exceeded max
   */
  constructor(
    readonly declared: number,
    readonly max: number,
    complete = true,
  ) {
    super(
      complete
        ? `frame of ${declared} bytes is over the maximum frame size of ${max} bytes`
        : `frame length prefix announces more than the maximum frame size of ${max} bytes`,
    );
  }
}
