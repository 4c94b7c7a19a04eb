/**
 * Tokens, signatures, CSRF tokens and cookies are compared in constant time: through
 * `sameSecret` (both sides hashed, then `crypto.subtle.timingSafeEqual`) or `crypto.subtle.verify`,
 * never with `===`. This reads every source file and refuses an equality test whose operand names
 * a secret-like value and whose other side is not a literal (a `typeof` check, `undefined`, a kind
 * name), so a shortcut comparison cannot slip in unnoticed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

const OPERAND = String.raw`[\w$.?!\[\]()]+|"[^"]*"|'[^']*'`;
const COMPARISON = new RegExp(String.raw`(${OPERAND})\s*(?:===|!==|==|!=)\s*(${OPERAND})`, "g");
const SECRET_LIKE = /secret|token|signature|csrf|hmac|\bmac\b|cookie|password|session/i;
const LITERAL = /^(undefined|null|true|false|-?\d+(\.\d+)?|"[^"]*"|'[^']*')$/;
/** Not values: the kind of a token, its length, a field's type. */
const METADATA = /(Kind|\.length|\.kind|\.type|\.byteLength)$/;

/** Equality tests on secret-like operands, as "file:line: text". */
function suspiciousComparisons(text: string, file: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
    for (const [whole, left, right] of line.matchAll(COMPARISON)) {
      // Brackets of the surrounding expression are not part of the operand.
      const sides = [left!, right!].map((side) => side.replace(/^[(!]+|[)?]+$/g, ""));
      if (!sides.some((side) => SECRET_LIKE.test(side))) continue;
      if (sides.some((side) => LITERAL.test(side) || METADATA.test(side))) continue;
      if (/typeof\s+$/.test(line.slice(0, line.indexOf(whole)))) continue;
      found.push(`${file}:${i + 1}: ${line.trim()}`);
    }
  });
  return found;
}

describe("constant-time comparisons", () => {
  it("the audit finds a plain comparison of a token, a signature or a CSRF token", () => {
    const bad = [
      "if (given === config.adminToken) return next();",
      "const ok = signature == expectedSignature;",
      "return form.csrf !== csrfToken(session);",
    ].join("\n");
    expect(suspiciousComparisons(bad, "x.ts")).toHaveLength(3);
    const fine = [
      'const token = typeof form.token === "string" ? form.token : "";',
      'if (how.token !== undefined) headers.authorization = "Bearer " + how.token;',
      'target.tokenKind === "project"',
      "if (expected?.byteLength !== 20) return null;",
    ].join("\n");
    expect(suspiciousComparisons(fine, "x.ts")).toEqual([]);
  });

  it("no source file compares a secret-like value with ===", () => {
    const files = sources(SRC);
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((file) =>
      suspiciousComparisons(readFileSync(file, "utf8"), relative(SRC, file)),
    );
    expect(found).toEqual([]);
  });

  it("every inbound credential check goes through a constant-time primitive", () => {
    const read = (path: string) => readFileSync(join(SRC, path), "utf8");
    expect(read("http/admin-auth.ts")).toMatch(/crypto\.subtle\.timingSafeEqual\(a, b\)/);
    expect(read("http/admin-auth.ts")).toMatch(/digest\("SHA-256", encoder\.encode\(given\)\)/);
    for (const path of ["http/dashboard/login.tsx", "http/dashboard/csrf.ts"])
      expect(read(path)).toMatch(/sameSecret\(/);
    for (const path of ["atlas/webhook-signature.ts", "slack/signature.ts", "http/dashboard/session.ts"])
      expect(read(path)).toMatch(/crypto\.subtle\.verify\("HMAC"/);
  });
});
