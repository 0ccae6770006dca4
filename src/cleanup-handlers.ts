// Imports every stage's cleanup handlers (registered as a side effect), so that the post step
// can undo any item in the ledger whichever stage recorded it.
import './cleanroom/cleanup.js';
import './ssh/cleanup.js';
