// Pure: a remote command that ends with its ssh session. Without a terminal, sshd never signals
// the remote command when the client goes away, so a `docker logs --follow` (or a `docker run`)
// would outlive a Ctrl-C on the operator's side. The wrapper runs the command in the
// background, watches the session's stdin, and stops the command (SIGTERM; docker passes it
// on) the moment stdin closes: the local side closes it to stop, and sshd closes it when the
// connection drops. The command's exit code is the wrapper's.

// Background jobs of a non-interactive sh get /dev/null as stdin, so the watcher reads the
// session's stdin through fd 3. `read` is a builtin: killing the watcher leaves no child behind.
const UNTIL_HANGUP = `exec 3<&0
"$@" </dev/null &
p=$!
{ while read -r _ <&3; do :; done; kill -TERM "$p" 2>/dev/null; } >/dev/null 2>&1 &
w=$!
wait "$p"; rc=$?
kill "$w" 2>/dev/null
exit "$rc"`;

/** argv wrapped so that it stops when the ssh session's stdin closes. */
export function untilHangupArgv(argv: string[]): string[] {
  return ['sh', '-c', UNTIL_HANGUP, 'sh', ...argv];
}
