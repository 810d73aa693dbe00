#!/bin/bash
# tokenization workers 0 / 1 / 2 at 16, 128 and 512-token inputs, concurrency 32, interleaved, two rounds
DLL=/work/main/src/HybridBert.Cli/bin/Release/net10.0/HybridBert.Cli.dll
for round in 1 2; do
  for tokens in 16 128 512; do
    for w in 0 1 2; do
      dotnet $DLL bench serve --requests 1000 --concurrency 32 --batched-only --input-tokens $tokens --tokenization-workers $w \
        --out /tmp/tokw/r$round-t$tokens-w$w > /tmp/tokw/r$round-t$tokens-w$w.log 2>&1
    done
  done
done
