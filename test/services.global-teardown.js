// Stops the containers services.global-setup.js started (only when it used testcontainers).
module.exports = async function globalTeardown() {
  for (const c of globalThis.__IKS_CONTAINERS__ ?? []) await c.stop().catch(() => undefined);
};
