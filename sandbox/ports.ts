/**
 * Local ports for the runners that start `wrangler dev` and the fakes (the sandbox, the bench, the
 * tests): a free one picked by the kernel, or whether a chosen one is free. 127.0.0.1 only.
 */
import { createServer } from "node:net";

/** A port nothing listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Whether `port` on 127.0.0.1 can be listened on. */
export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
