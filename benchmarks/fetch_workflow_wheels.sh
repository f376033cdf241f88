#!/usr/bin/env bash
# Wheels of Snakemake and everything it imports, for Python 3.12 on x86-64 Linux: what a GPU machine
# whose image has torch and the scientific stack but no Snakemake needs to run the workflow
# (benchmarks/gpu_workflow.sh). The rest of scbeta's wheels: ../shared/tools/gpu/fetch-wheels.sh.
#   bash benchmarks/fetch_workflow_wheels.sh DIR      (DIR inside the checkout and ignored by git, e.g. .whl)
# A package with no wheel on the registry (pure Python) is built into one here.
set -euo pipefail
dir=${1:?usage: fetch_workflow_wheels.sh DIR}
mkdir -p "$dir"
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
      --platform any)
# Snakemake's dependency closure at the version the lock pins (requirements/lock-linux-x86_64-cpu.txt).
packages=(snakemake==9.27.1 platformdirs==4.14.9 immutables==0.21 ConfigArgParse==1.9.0 connection_pool==0.0.3
  docutils==0.22.4 GitPython==3.2.1 gitdb==4.0.12 smmap==5.0.3 humanfriendly==10.0 nbformat==5.11.1
  fastjsonschema==2.22.3 jupyter_core==5.9.1 traitlets==5.16.1 PuLP==3.3.2 tenacity==9.2.1 smart_open==7.7.1
  wrapt==2.5.2 snakemake-interface-executor-plugins==9.4.0 argparse-dataclass==2.0.0
  snakemake-interface-common==1.23.0 throttler==1.2.3 snakemake-interface-storage-plugins==4.4.1
  snakemake-interface-report-plugins==1.3.0 snakemake-interface-logger-plugins==2.1.0
  snakemake-interface-scheduler-plugins==2.0.2 tabulate==0.10.0 yte==1.9.4 dpath==2.2.0 conda-inject==1.3.2
  sqlmodel==0.0.37 SQLAlchemy==2.0.58 greenlet==3.5.6 pydantic==2.14.4 annotated-types==0.8.0
  pydantic_core==2.50.5 typing-inspection==0.4.5 attrs==26.1.0 psutil==7.2.2)
for package in "${packages[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" \
      -d "$dir" "$package" 2>/dev/null \
    || python3 -m pip wheel -q --no-deps -w "$dir" "$package"
done
ls "$dir" | wc -l
du -sh "$dir"
