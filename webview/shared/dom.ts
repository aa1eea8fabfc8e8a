/** A small element builder. Text goes in through textContent only: no data ever becomes markup. */

export interface Props {
  class?: string;
  testid?: string;
  text?: string;
  attrs?: Record<string, string>;
  on?: Record<string, (event: Event) => void>;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props, children?: Array<Node | string>): HTMLElementTagNameMap[K];
export function el(tag: string, props?: Props, children?: Array<Node | string>): HTMLElement;
export function el(tag: string, props: Props = {}, children: Array<Node | string> = []): HTMLElement {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.testid) node.dataset.testid = props.testid;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  for (const [name, handler] of Object.entries(props.on ?? {})) node.addEventListener(name, handler);
  for (const child of children) node.append(child);
  return node;
}
