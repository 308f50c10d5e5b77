# Sourced by scripts/demo.sh and scripts/demo-headline.sh once their settings are read (ROOT, KDSEQ_VENV,
# KDSEQ_SETUP, WORK, and their own stamp and die): the environment, set up unless KDSEQ_SETUP=0; the device; and
# run_workflow, which runs the recipe's Snakemake workflow on this machine.
if [ "$KDSEQ_SETUP" = 0 ]; then
  command -v kdseq-prepare > /dev/null || die "KDSEQ_SETUP=0 but kdseq is not installed in this environment"
  command -v snakemake > /dev/null || die "KDSEQ_SETUP=0 but snakemake is not installed in this environment"
else
  stamp "set-up"
  bash "$ROOT/scripts/setup-env.sh"
  # shellcheck disable=SC1091
  source "$KDSEQ_VENV/bin/activate"
fi
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"
export KDSEQ_DEVICE=$DEVICE  # detected once, not again by every job

CONFIG=()  # KEY=VALUE settings from the environment (the scripts' own variables), before the command line's
setting() {  # setting KEY VALUE: one setting, if VALUE is not empty
  [ -z "$2" ] || CONFIG+=("$1=$2")
}

# run_workflow CONFIGFILE... -- ARGS...: Snakemake on this machine (every core; jobs share them by their threads),
# the recipe's config files, then the command line's (--configfile FILE..., --config KEY=VALUE..., and any other
# snakemake option, e.g. -n for the plan or --profile profiles/slurm), the environment's settings before its own.
run_workflow() {
  local files=() user_files=() user_config=() rest=() mode=""
  while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for arg in "$@"; do
    case "$arg" in
      --configfile|--configfiles) mode=files ;;
      --config) mode=config ;;
      -*) mode=""; rest+=("$arg") ;;
      *) case "$mode" in files) user_files+=("$arg") ;; config) user_config+=("$arg") ;; *) rest+=("$arg") ;; esac ;;
    esac
  done
  local cores
  cores=$(getconf _NPROCESSORS_ONLN)
  local all=("${CONFIG[@]}" "${user_config[@]}")
  mkdir -p "$WORK"
  local shown=("${files[@]#"$ROOT"/}" ${user_files[@]+"${user_files[@]}"})
  stamp "workflow: $ROOT/workflow/Snakefile with ${shown[*]}, work folder $WORK, $cores cores"
  snakemake -s "$ROOT/workflow/Snakefile" --directory "$WORK" --cores "$cores" --rerun-incomplete \
    --configfile "${files[@]}" ${user_files[@]+"${user_files[@]}"} ${all[@]+--config "${all[@]}"} \
    --quiet host ${rest[@]+"${rest[@]}"}
}
