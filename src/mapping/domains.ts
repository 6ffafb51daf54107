import { domainToUnicode } from 'node:url';

/**
 * A domain as an account key: the host of a URL or a bare domain, lowercased, without `www.`, a port,
 * a path or a trailing dot (`https://www.Acme.example/about` and `acme.example.` are `acme.example`).
 * An email address gives its domain. Internationalised names are kept as people write them
 * (`bücher.example`, not its punycode). Undefined when the text holds no usable host.
 */
export function normaliseHost(text: string): string | undefined {
  let value = text.trim().toLowerCase();
  if (value === '') return undefined;
  const at = value.lastIndexOf('@');
  if (at >= 0 && !value.includes('/')) value = value.slice(at + 1);
  let host: string;
  try {
    host = new URL(/^[a-z][a-z0-9+.-]*:\/\//.test(value) ? value : `http://${value}`).hostname;
  } catch {
    return undefined;
  }
  host = host.replace(/\.$/, '').replace(/^www\d*\./, '');
  // An IP address or a single label (`localhost`) is nobody's company domain.
  if (!host.includes('.') || /^[\d.]+$/.test(host) || host.startsWith('[')) return undefined;
  return host.includes('xn--') ? domainToUnicode(host) : host;
}
