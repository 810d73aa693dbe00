#!/bin/bash
# bench serve per route, the routes interleaved, two rounds
DLL=src/HybridBert.Cli/bin/Release/net10.0/HybridBert.Cli.dll
for r in 1 2; do
  for route in embed embed_sparse tokenize grpc-embed; do
    dotnet $DLL bench serve --requests 2000 --concurrency 1,32 --batched-only --route $route --out /tmp/routes/r$r-$route
  done
done
