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

/**
 * A small form in a message's item: one text area (`label` names it), a submit button and Cancel. `submit` gets the
 * trimmed text; `cancel` is called on Cancel.
 */
export function textForm(
  className: string,
  label: string,
  submitText: string,
  handlers: { submit(text: string, send: HTMLButtonElement): void; cancel(form: HTMLFormElement): void },
): { form: HTMLFormElement; input: HTMLTextAreaElement } {
  const form = el('form', className);
  const input = el('textarea');
  input.setAttribute('aria-label', label);
  const send = el('button', 'small', submitText);
  send.type = 'submit';
  form.append(
    input,
    send,
    button('Cancel', 'small secondary', () => handlers.cancel(form)),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    handlers.submit(input.value.trim(), send);
  });
  return { form, input };
}
