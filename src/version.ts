import pkg from "../package.json" with { type: "json" };

/** The product version (package.json), compiled into the binary. */
export const VERSION: string = pkg.version;
