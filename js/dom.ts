/**
 * DOM writes that happen only when the value changes. The view redraws on every kernel message
 * (several per keystroke); an unchanged write still costs the browser a style, layout, paint and
 * compositing pass, CPU the kernel's forward pass needs on a small machine.
 */

export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setHidden(node: HTMLElement, hidden: boolean): void {
  if (node.hidden !== hidden) node.hidden = hidden;
}

export function setData(node: HTMLElement, key: string, value: string): void {
  if (node.dataset[key] !== value) node.dataset[key] = value;
}

export function setAttribute(node: Element, name: string, value: string): void {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/** A form control's value, checked or disabled state, written only when it differs. */
export function setProperty<T extends HTMLInputElement | HTMLSelectElement, K extends "value" | "checked" | "disabled" | "max">(
  node: T,
  key: K & keyof T,
  value: T[K & keyof T],
): void {
  if (node[key] !== value) node[key] = value;
}

/** A new element with a class, appended to `parent` when given. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  parent?: HTMLElement,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  parent?.appendChild(node);
  return node;
}
