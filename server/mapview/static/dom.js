// Building DOM from data: text goes in as text, never as HTML (names and case descriptions
// come from the public; the page's CSP forbids inline script, this keeps markup out too).

/**
 * Children as nodes and strings: nested arrays flattened to any depth; null, undefined, false
 * and "" dropped. A builder can then hand over `[a, [b, c], cond ? d : null]` as it pleases —
 * an array must never reach the DOM as text ("[object HTMLElement],…") nor null as "null".
 */
export function nodes(children) {
  const out = [];
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false || child === "") continue;
    out.push(child instanceof Node ? child : String(child));
  }
  return out;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...nodes(children));
  return node;
}

/** Replace `node`'s children (the same rules as `el`). */
export function fill(node, ...children) {
  node.replaceChildren(...nodes(children));
  return node;
}

/** A definition list of [term, value] rows, skipping empty values. */
export function facts(rows) {
  return el("dl", { class: "facts" },
    rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

let toastTimer = null;
export function toast(text, ms = 4000) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, ms);
}
