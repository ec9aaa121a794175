// The signed-in user as GET /api/me answered it, for pages: me() → {user, units, roles, permissions},
// can("hello.write") → whether one of the user's roles holds the permission on some unit
// ("*" covers everything but audit.*; "area.*" covers the area). The server still checks every request.
let current = null;

export function setMe(m) { current = m; }
export function me() { return current; }

export function holds(patterns, perm) {
  for (const p of patterns || []) {
    if (p === perm) return true;
    if (p === "*" && !perm.startsWith("audit.")) return true;
    if (p.endsWith(".*") && perm.startsWith(p.slice(0, -1))) return true;
  }
  return false;
}

export function can(perm) { return !!current && holds(current.permissions, perm); }
