// Action entry point (action.yml `main` and `post`).
import "./util/esm-shim.js";
import { runAction } from './action.js';

void runAction();
