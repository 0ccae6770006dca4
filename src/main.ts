// Action entry point (action.yml `main` and `post`).
import "./util/esm-shim.js";
import { runAction } from './action.js';

// Node exits 0 when its event loop empties, even with a promise still pending; a ref'd timer
// for the whole step makes sure a stalled wait can never end as a silent success.
const keepAlive = setInterval(() => undefined, 60_000);
void runAction().finally(() => clearInterval(keepAlive));
