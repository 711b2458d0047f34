// Loopback Better Auth server for the Django test suite (driven by harness.py).
//
// Configuration (environment; BA_E2E_* names so that an app's own BETTER_AUTH_* settings,
// e.g. from pytest-env, never leak in — harness.py also strips BETTER_AUTH_* from our env):
//   BA_E2E_PORT               port to listen on (127.0.0.1); 0 or unset = let the OS pick one
//   BA_E2E_DATABASE_URL       PostgreSQL URL (default postgres://postgres@127.0.0.1:5432/better_auth_e2e);
//                             the database is created if missing, tables are migrated at start-up
//   BA_E2E_SECRET             secret (default: a fixed 32+ char test string). The JWKS private
//                             keys are stored encrypted with it: keep one secret per database.
//   BA_E2E_JWT_OPTIONS        optional JSON merged into jwt({ jwt: ... }) (e.g. {"expirationTime": "5s"});
//                             unset = the jwt() plugin's defaults (EdDSA/Ed25519, 15 min, iss = aud = baseURL)
//
// On success one line is printed to stdout:
//   BETTER_AUTH_READY {"baseURL": ..., "port": ..., "jwksURL": ..., "database": ...}
// SIGTERM / SIGINT close the HTTP server and the pool, then exit 0.

import http from "node:http";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { bearer, jwt } from "better-auth/plugins";
import pg from "pg";

const HOST = "127.0.0.1";
const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/better_auth_e2e";
const DEFAULT_SECRET = "better-auth-e2e-test-secret-not-for-production-0123456789";
// Arbitrary constant: serialises migrations when several servers start against one database.
const MIGRATION_LOCK_ID = 73_452_001;

function log(...args) {
  console.error("[better-auth-e2e]", ...args);
}

async function ensureDatabase(databaseUrl) {
  const url = new URL(databaseUrl);
  const dbName = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!dbName) throw new Error(`database name missing in ${databaseUrl}`);
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = "/postgres";
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [dbName]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${dbName.replaceAll('"', '""')}"`);
        log(`created database ${dbName}`);
      } catch (err) {
        // 42P04 duplicate_database / 23505: another server created it concurrently.
        if (err.code !== "42P04" && err.code !== "23505") throw err;
      }
    }
  } finally {
    await client.end();
  }
  return dbName;
}

async function migrate(options, pool) {
  const lockClient = await pool.connect();
  try {
    await lockClient.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID]);
    const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(options);
    if (toBeCreated.length || toBeAdded.length) {
      await runMigrations();
      log(
        "migrated:",
        JSON.stringify({
          created: toBeCreated.map((t) => t.table),
          altered: toBeAdded.map((t) => t.table),
        }),
      );
    }
  } finally {
    await lockClient.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_ID]).catch(() => {});
    lockClient.release();
  }
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, HOST, () => {
      server.off("error", reject);
      resolve(server.address().port);
    });
  });
}

async function main() {
  const databaseUrl = process.env.BA_E2E_DATABASE_URL || DEFAULT_DATABASE_URL;
  const requestedPort = Number.parseInt(process.env.BA_E2E_PORT || "0", 10);
  const jwtOverrides = process.env.BA_E2E_JWT_OPTIONS
    ? JSON.parse(process.env.BA_E2E_JWT_OPTIONS)
    : undefined;

  const dbName = await ensureDatabase(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });

  // Listen first so that baseURL (hence iss/aud) carries the real port even when the OS picks it.
  let handler = (_req, res) => {
    res.writeHead(503, { "content-type": "text/plain" }).end("starting");
  };
  const server = http.createServer((req, res) => handler(req, res));
  const port = await listen(server, requestedPort);
  const baseURL = `http://${HOST}:${port}`;

  const options = {
    appName: "better-auth-e2e",
    baseURL,
    secret: process.env.BA_E2E_SECRET || DEFAULT_SECRET,
    database: pool,
    emailAndPassword: { enabled: true },
    // Tests sign up many users from one address; never answer 429.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    plugins: [jwtOverrides ? jwt({ jwt: jwtOverrides }) : jwt(), bearer()],
  };

  await migrate(options, pool);
  const auth = betterAuth(options);
  handler = toNodeHandler(auth);

  let stopping = false;
  const shutdown = (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`);
    server.closeAllConnections?.();
    server.close(() => {
      pool.end().finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));

  const ready = { baseURL, port, jwksURL: `${baseURL}/api/auth/jwks`, database: dbName };
  process.stdout.write(`BETTER_AUTH_READY ${JSON.stringify(ready)}\n`);
}

main().catch((err) => {
  log("fatal:", err?.stack || err);
  process.exit(1);
});
