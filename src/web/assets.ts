// The web client, built into the binary: Bun bundles the page, its script and its styles
// at `bun build --compile` time (an HTML import) and embeds them.

import page from "./app/index.html";

export const webPage = page;
