#!/bin/bash
# A B A B: c451c05 (before typed serving) vs HEAD, bench serve, one process at a time
OLD=/tmp/oldbuild/src/HybridBert.Cli/bin/Release/net10.0/HybridBert.Cli.dll
NEW=/work/main/src/HybridBert.Cli/bin/Release/net10.0/HybridBert.Cli.dll
for round in 1 2 3 4 5 6 7 8; do
  for v in old new; do
    dll=$OLD; [ $v = new ] && dll=$NEW
    dotnet $dll bench serve --requests 3000 --concurrency 1,32 --batched-only --out /tmp/serveab/$v-$round > /tmp/serveab/$v-$round.log 2>&1
  done
done
