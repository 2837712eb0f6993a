/** The help line of `--no-typecheck`, the same on every command that takes `--kernel`. */
export const NO_TYPECHECK_HELP = "run a variant file without type-checking it first against mmcheck's types (registered kernels are never type-checked)";
