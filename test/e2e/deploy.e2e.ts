// End-to-end, in real VS Code: the main flow on the virtual Pico. Waiting for work in progress
// (the deploy flow in src/core/deploy, the Inference Timing view in src/core/timing +
// src/extension/timingView.ts, the virtual Pico in src/sim and the "Start Virtual Pico"
// command); each todo says what the scenario needs. No code-server is started for todos.
import { describe, it } from 'node:test';

describe('deploy on the virtual Pico (code-server)', () => {
  // Needs: "CircuitPython ML: Start Virtual Pico" (cpml.startVirtualPico, today a "not available"
  // message) starting `cpml sim` on a drive folder + pty, and setting the board so the status bar
  // shows "Virtual Pico · CP … · <drive> · connected"; cpml.deployModel implemented.
  // Steps: Workbench.start on makeWorkspace(); run "Start Virtual Pico"; wait for the
  // indicator; openFromExplorer('model.onnx'); run "CircuitPython ML: Deploy Model to Pico"
  // (answer its quick picks, e.g. the samples folder mnist_samples/, with pickQuickPickItem);
  // check the drive has model.bin (7312 bytes), the 20 sample files and code.py; in
  // showOutputChannel('CircuitPython Serial Monitor') wait for the 20 prediction lines (same
  // labels as examples/mnist/firmware_outputs.txt); showView('Inference Timing'): one run
  // with 20 samples and a summary node (n=20, min, median, mean, p95, max), labelled simulated.
  it.todo('Deploy Model to Pico on the virtual board: 20 predictions in the monitor, 20 samples + summary in Inference Timing');

  // Needs: the virtual Pico (as above) running a deployed code.py that loops long enough to be
  // stopped. Stop: run "CircuitPython ML: Stop Program (Ctrl-C)"; the monitor shows the
  // KeyboardInterrupt traceback and "Press any key to enter the REPL"; the indicator leaves
  // "· running". Soft Reload: run "CircuitPython ML: Soft Reload (Ctrl-D)"; the monitor shows
  // "soft reboot" and "code.py output:" again; predictions start over; the indicator shows
  // "· running" again.
  it.todo('Stop Program (Ctrl-C) and Soft Reload (Ctrl-D) act on the virtual board');

  // Needs: cpml.deployModel on a model the firmware refuses. Steps: Start Virtual Pico;
  // snapshot the drive folder (names, sizes, hashes, including an existing code.py);
  // openFromExplorer('broken.onnx'); run "CircuitPython ML: Deploy Model to Pico"; an error
  // notification with "operator Sigmoid is not supported"; the drive folder is byte-for-byte
  // unchanged (no model.bin, no temporary files, code.py not replaced); the monitor shows no
  // reload.
  it.todo('a broken model\'s deploy is refused and leaves the drive untouched');
});
