// Small DOM helpers shared by the page's modules.

export const $ = (id) => document.getElementById(id);

/** An element with a class and, optionally, text (set as textContent: never parsed as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

let alertTimer;

/** Shows a short notice at the top of the page for a few seconds. */
export function showAlert(text, kind = 'error') {
  const alert = $('alert');
  $('alert-text').textContent = text;
  alert.dataset.kind = kind;
  alert.hidden = false;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => (alert.hidden = true), 8000);
}

const CONNECTION_LABELS = { connecting: 'Connecting…', online: 'Online', offline: 'Offline' };

export function setConnection(connection) {
  $('connection').textContent = CONNECTION_LABELS[connection];
  $('connection').dataset.state = connection;
}
