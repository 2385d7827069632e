// Placeholder until the screen lands.
import { states } from "./ui.js";
export function render(root) {
  root.replaceChildren(states.empty());
}
