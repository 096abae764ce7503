// UTS #39 §4 confusable skeletons: two strings that look alike share a skeleton
// (`аlice` with a Cyrillic а and `alice`; `rn` and `m`).

import { confusablePrototype } from "./unicode-tables";

/** skeleton(X) = NFD(prototypes of each code point of NFD(X))). */
export function skeleton(text: string): string {
  let out = "";
  for (const ch of text.normalize("NFD")) out += confusablePrototype(ch) ?? ch;
  return out.normalize("NFD");
}
