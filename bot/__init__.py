"""The product's core, platform-neutral. One package per capability, each registering what it offers:

    core/          settings, time, the domain's arithmetic, the message vocabulary, ports, the registry
    delivery/      the outbox and its delivery through a platform's ChatPort
    improvements/  report -> 5 Whys -> proposal -> approval -> implemented
    sustain/       check-ins after a fix: still holding, slipping, sustained
    wins/          the weekly win announcement and its chart
    insights/      what waits on each person, lists and search, the home view, the export

plus the service (the one entry point platforms call), the tick, the scheduler and the assembly that wires
them. Nothing here imports handlers/ or a chat platform's SDK."""
