#!/bin/sh
# Grade one module as a Slurm job array of N tasks, then merge (README: "Several machines").
#   sbatch --array=1-4 docs/grading-at-scale/slurm-array.sh 01 4
#   sbatch --dependency=afterok:<that job id> --wrap "cd $COURSE && tito merge-grades 01 $SCRATCH/tito-01/shard-*"
# COURSE is the instructor's course (with submitted/); SCRATCH a folder every node can write.
#SBATCH --job-name=tito-grade
#SBATCH --cpus-per-task=2
#SBATCH --mem=10G
set -eu
MODULE=$1 N=$2 K=$SLURM_ARRAY_TASK_ID
WORK="$SCRATCH/tito-$MODULE/work-$K"
mkdir -p "$WORK" && cp -a "$COURSE/." "$WORK/"   # a private copy: its own lock, gradebook and reports
cd "$WORK"
tito grade "$MODULE" --shard "$K/$N" --jobs 2
mkdir -p "$SCRATCH/tito-$MODULE/shard-$K"
cp -a reports autograded feedback submitted "$SCRATCH/tito-$MODULE/shard-$K/"
