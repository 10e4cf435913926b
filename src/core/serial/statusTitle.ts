// CircuitPython writes its state into the terminal's window title, e.g.
//   "🐍code.py | 9.2.1"            running code.py
//   "🐍Done | 9.2.1"               finished
//   "🐍12@code.py ValueError | 9.2.1"   stopped by an exception at line 12
//   "🐍6@code.py KeyboardInterrupt | 9.2.1"   stopped by Ctrl-C (the user's doing, not an error)
//   "🐍REPL | 9.2.1"               at the >>> prompt
// (with an IP address first on boards with Wi-Fi). A free source of run state.

export type RunState = 'running' | 'done' | 'stopped' | 'error' | 'repl' | 'safe-mode' | 'unknown';

export interface BoardStatus {
  state: RunState;
  /** The file being run, when the title names it. */
  file?: string;
  line?: number;
  exception?: string;
  version?: string;
  /** The title without the snake, as sent. */
  raw: string;
}

export function parseStatusTitle(title: string): BoardStatus {
  const raw = title.replace(/^\s*🐍\s*/u, '').trim();
  const parts = raw.split('|').map((p) => p.trim()).filter(Boolean);
  const status: BoardStatus = { state: 'unknown', raw };
  const last = parts[parts.length - 1];
  if (last && /^\d+\.\d+/.test(last)) {
    status.version = last;
    parts.pop();
  }
  for (const part of parts) {
    const error = /^(\d+)@(\S+)\s+(\w+)/.exec(part);
    if (error) {
      Object.assign(status, { state: error[3] === 'KeyboardInterrupt' ? 'stopped' : 'error', line: Number(error[1]), file: error[2], exception: error[3] });
    } else if (/^done$/i.test(part)) {
      status.state = 'done';
    } else if (/^repl$/i.test(part)) {
      status.state = 'repl';
    } else if (/safe mode/i.test(part)) {
      status.state = 'safe-mode';
    } else if (/\.(py|mpy)$/.test(part)) {
      status.file = part;
      if (status.state === 'unknown') status.state = 'running';
    }
  }
  return status;
}
