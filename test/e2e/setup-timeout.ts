// End-to-end tests talk to real engines and hosts: give them minutes, not jest's 5 s default
// (`testTimeout` is a global option and cannot be set per project).
import { jest } from '@jest/globals';

jest.setTimeout(600_000);
