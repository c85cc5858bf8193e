/** The element with this id, of the type expected (the page's markup is public/index.html). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`#${id} is missing from index.html`);
  }
  return element as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) {
    element.className = className;
  }
  if (text !== undefined) {
    element.textContent = text;
  }
  return element;
}

export function button(text: string, className: string, onClick: () => void, label?: string): HTMLButtonElement {
  const element = el('button', className, text);
  element.type = 'button';
  if (label) {
    element.setAttribute('aria-label', label);
  }
  element.addEventListener('click', onClick);
  return element;
}

/** The alert line under the top bar (errors and notices people must see). */
export function showAlert(text: string): void {
  byId('alert-text').textContent = text;
  byId('alert').hidden = false;
}

export function hideAlert(): void {
  byId('alert').hidden = true;
}

/** Shows anything thrown in the alert line. */
export function reportError(error: unknown): void {
  showAlert(messageOf(error));
}

/** Describes anything thrown for people. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A text field of a form's data ('' when absent). */
export function field(data: FormData, name: string): string {
  const value = data.get(name);
  return typeof value === 'string' ? value : '';
}
