// Loaded into every unit-test process (node --import): gives fast-check the run's seed, so a property failure in CI
// replays on any machine from the same source tree, while each new tree still explores new random lives.
import fc from "fast-check";

const seed = Number(process.env.VIREO_PROPERTY_SEED);
// Properties that pin their own seed (the reconciler's, the "not vacuous" coverage checks) keep it: a per-call seed
// wins over the global one.
if (Number.isInteger(seed)) fc.configureGlobal({ seed });
