// Every test sees the output a user without colour sees. CI runs the suite with FORCE_COLOR set
// (its log is coloured), and the CLI's child processes inherit it: picocolors then wraps
// headings in escape codes and a test comparing text fails on a correct build (stop 32's CI).
// NO_COLOR wins over FORCE_COLOR in picocolors; both are set so any colour library agrees.
delete process.env.FORCE_COLOR;
process.env.NO_COLOR = '1';
