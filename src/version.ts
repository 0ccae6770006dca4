// The version `pallet --version` prints and defect reports name: package.json's, kept equal by
// test/unit/package.test.ts (a constant, so the ncc bundles need not read package.json).
export const VERSION = '2.0.0';
