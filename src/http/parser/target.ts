/**
 * The request-target (RFC 9112 §3.2): which forms are accepted, the authority
 * of an absolute-form target, and the one path rule both the native and the
 * fetch API see. Dot-segments are removed as RFC 3986 §5.2.4 and the WHATWG
 * URL parser do (`.` and `..`, also spelled `%2e`); one that would climb above
 * the root is a 400 (as nginx answers), and so is a backslash in the path (the
 * URL parser reads it as "/", other servers as a byte). Whatever a prefix check
 * on `req.path` allows is then exactly what a fetch handler's URL says.
 * Thread: any. Owns nothing.
 */
import { COLON, HOST } from './chars.js';
import { badRequest } from './errors.js';

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const BACKSLASH = 0x5c;
const AT = 0x40;

/**
 * Checks the target's form and returns where its path starts in `data`: `s` for origin-form,
 * the end of the authority for absolute-form (http(s)://authority...), -1 when it has no path
 * (`*` for OPTIONS, authority-form for CONNECT).
 */
export function checkTargetForm(method: string, data: Uint8Array, s: number, e: number): number {
  const c = data[s];
  if (method === 'CONNECT') {
    if (c === SLASH) throw badRequest('HPE_INVALID_TARGET', 'CONNECT needs an authority-form target (host:port)');
    for (let i = s; i < e; i++) if (!HOST[data[i]!]) throw badRequest('HPE_INVALID_TARGET', 'invalid authority-form target');
    return -1;
  }
  if (c === SLASH) return s;
  if (c === 0x2a) {
    if (e - s === 1 && method === 'OPTIONS') return -1;
    throw badRequest('HPE_INVALID_TARGET', "asterisk-form target '*' is only valid for OPTIONS");
  }
  // absolute-form: "http://" or "https://", case-insensitive scheme, then a non-empty authority.
  let i = s;
  const lower = (k: number): number => data[k]! | 0x20;
  if (e - s > 7 && lower(i) === 0x68 && lower(i + 1) === 0x74 && lower(i + 2) === 0x74 && lower(i + 3) === 0x70) {
    i += 4;
    if (lower(i) === 0x73) i++;
    if (data[i] === COLON && data[i + 1] === SLASH && data[i + 2] === SLASH) {
      const as = i + 3;
      let ae = as;
      while (ae < e && data[ae] !== SLASH && data[ae] !== QUESTION) {
        const b = data[ae]!;
        if (b === AT) throw badRequest('HPE_INVALID_TARGET', 'userinfo (user@) in the request-target');
        if (!HOST[b]) throw badRequest('HPE_INVALID_TARGET', 'invalid character in the authority of the request-target');
        ae++;
      }
      if (ae === as) throw badRequest('HPE_INVALID_TARGET', 'absolute-form request-target with an empty authority');
      return ae;
    }
  }
  throw badRequest('HPE_INVALID_TARGET', 'request-target must start with "/" (or be absolute http(s)://)');
}

/**
 * Scans the path (up to "?") for what the path rule must look at: true when a segment may be a
 * dot-segment (starts with "." or "%2e"; confirmed by `resolveDotSegments`). A backslash is a 400.
 */
export function pathHasDotSegments(data: Uint8Array, ps: number, e: number): boolean {
  let dots = false;
  for (let i = ps; i < e; i++) {
    const c = data[i];
    if (c === QUESTION) break;
    if (c === BACKSLASH) throw badRequest('HPE_INVALID_PATH', 'backslash in the path');
    if (data[i - 1] === SLASH && (c === DOT || (c === PERCENT && data[i + 1] === 0x32 && (data[i + 2]! | 0x20) === 0x65))) {
      dots = true;
    }
  }
  return dots;
}

function isDot(seg: string): boolean {
  return seg === '.' || (seg.length === 3 && seg.toLowerCase() === '%2e');
}

function isDotDot(seg: string): boolean {
  if (seg === '..') return true;
  const n = seg.length;
  if (n !== 4 && n !== 6) return false;
  const l = seg.toLowerCase();
  return l === '.%2e' || l === '%2e.' || l === '%2e%2e';
}

/**
 * The target with the dot-segments of its path removed (the path starts at `pathStart`, an
 * index into `target`); throws 400 when a ".." would climb above the root.
 */
export function resolveDotSegments(target: string, pathStart: number): string {
  let pe = target.indexOf('?', pathStart);
  if (pe < 0) pe = target.length;
  const segs = target.slice(pathStart + 1, pe).split('/');
  const out: string[] = [];
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    const last = k === segs.length - 1;
    if (isDot(seg)) {
      if (last) out.push('');
    } else if (isDotDot(seg)) {
      if (out.length === 0) throw badRequest('HPE_PATH_ABOVE_ROOT', 'a ".." segment climbs above the root of the path');
      out.pop();
      if (last) out.push('');
    } else {
      out.push(seg);
    }
  }
  return `${target.slice(0, pathStart)}/${out.join('/')}${target.slice(pe)}`;
}

/** The authority of an absolute-form target whose path starts at `pathStart` ('' for other forms). */
export function targetAuthority(target: string, pathStart: number): string {
  const s = target.indexOf('//');
  return s < 0 || pathStart <= s ? '' : target.slice(s + 2, pathStart);
}

/**
 * Whether the Host header names the same authority as an absolute-form target (RFC 9112 §3.2.2:
 * a client sends them identical): compared case-insensitively, the scheme's default port and
 * an empty port being the same as none.
 */
export function sameAuthority(target: string, authority: string, host: string): boolean {
  if (authority === host) return true;
  const port = (target.charCodeAt(4) | 0x20) === 0x73 ? ':443' : ':80';
  const norm = (a: string): string => {
    const l = a.toLowerCase();
    if (l.endsWith(port)) return l.slice(0, -port.length);
    return l.endsWith(':') ? l.slice(0, -1) : l;
  };
  return norm(authority) === norm(host);
}
