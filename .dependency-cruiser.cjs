// Layers (docs/architecture.md, "Rooms"): kernel <- supervisor <- router; kernel <- supervisor/client
// <- tenants/control-plane <- tenants/cli <- dev. Nothing production imports dev/ or test/.
const PRODUCTION = '^(kernel|router|supervisor|tenants|console|runtime-image|egress)/';
const ROOT_FILE = '^router/[^/]+[.]ts$';
const rule = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    // Rooms against rooms.
    rule(
      'kernel-imports-nothing-of-ours',
      'the kernel is the floor: contracts, tenant state, errors, keys',
      { path: '^kernel/' },
      { path: '^(router|supervisor|tenants|console|dev|runtime-image|egress|test)/' },
    ),
    rule(
      'supervisor-over-kernel-only',
      'the supervisor sees the kernel and nothing above it',
      { path: '^supervisor/' },
      { path: '^(router|tenants|console|dev|runtime-image|egress|test)/' },
    ),
    rule(
      'supervisor-client-stands-alone',
      'what others import from the supervisor drags in no internals',
      { path: '^supervisor/client/' },
      { path: '^supervisor/', pathNot: '^supervisor/client/' },
    ),
    rule(
      'router-over-kernel-and-supervisor-client',
      'router -> kernel + supervisor client, nothing else',
      { path: '^router/' },
      { path: '^(supervisor/(?!client/)|tenants/|console/|dev/|runtime-image/|egress/|test/)' },
    ),
    rule(
      'runtime-image-over-kernel-only',
      'the tenant runtime bundles the tool contracts, never Redis state',
      { path: '^runtime-image/' },
      { path: '^(router|supervisor|tenants|dev|egress|test)/|^kernel/(registry|audit|redis|secrets)/' },
    ),
    rule(
      'control-plane-below-cli',
      'use cases: kernel (the secret store included), supervisor client',
      { path: '^tenants/control-plane/' },
      { path: '^(router|console|dev|test|runtime-image|egress)/|^supervisor/(?!client/)|^tenants/cli/' },
    ),
    rule(
      'cli-thin',
      'the CLI parses, calls a use case, prints',
      { path: '^tenants/cli/' },
      { path: '^(router|console|dev|test|runtime-image|egress)/|^supervisor/(?!client/)' },
    ),
    rule(
      'console-over-use-cases',
      'the console: kernel, supervisor client, control-plane use cases; never the router or the CLI',
      { path: '^console/' },
      { path: '^(router|dev|test|runtime-image|egress)/|^supervisor/(?!client/)|^tenants/cli/' },
    ),
    rule(
      'console-page-is-browser-code',
      'the page bundle sees only its own files and front-end packages, never server code',
      { path: '^console/ui/src/' },
      { path: '^(kernel|router|supervisor|tenants|dev|test|runtime-image|egress)/|^console/(?!ui/src/)' },
    ),
    rule(
      'console-libraries-stay-in-the-page',
      'preact, htm and uPlot are bundled into the page only',
      { pathNot: '^console/ui/src/' },
      { path: 'node_modules/(preact|htm|uplot)/' },
    ),
    rule(
      'egress-gateway-least-privilege',
      'the egress gateway: kernel, the tenant socket connector, the secret store; never Docker, the router or the use cases',
      { path: '^egress/' },
      {
        path: '^(router|console|dev|test|runtime-image|tenants/(cli|control-plane))/|^supervisor/(?!client/)',
      },
    ),
    rule(
      'nothing-production-into-dev',
      'development-only code is in dev/, which no image contains',
      { path: PRODUCTION },
      { path: '^dev/' },
    ),
    rule(
      'nothing-production-into-test',
      'fakes live under test/support/fakes/',
      { path: `${PRODUCTION}|^dev/` },
      { path: '^test/' },
    ),
    // Inside the kernel.
    rule(
      'kernel-errors-at-the-floor',
      'the error model imports nothing else of the kernel: every room may throw',
      { path: '^kernel/errors/' },
      { path: '^kernel/', pathNot: '^kernel/errors/' },
    ),
    rule(
      'kernel-config-over-errors',
      'configuration declarations see only the error model',
      { path: '^kernel/config/' },
      { path: '^kernel/', pathNot: '^kernel/(errors|config)/' },
    ),
    rule(
      'kernel-tools-at-the-bottom',
      '',
      { path: '^kernel/(tools|wire|process)/' },
      { path: '^kernel/(packs|tenant|registry|audit)/' },
    ),
    rule(
      'kernel-packs-below-tenant',
      '',
      { path: '^kernel/packs/' },
      { path: '^kernel/(tenant|registry|audit)/' },
    ),
    rule(
      'kernel-redis-at-the-floor',
      'Redis keys, Lua scripts and connection options: the stores build on them, they on nothing',
      { path: '^kernel/redis/' },
      { path: '^kernel/', pathNot: '^kernel/(errors|redis)/' },
    ),
    rule(
      'kernel-ratelimit-above-the-rest',
      'the rate-limit decision builds on tenant quotas, tools and Redis; nothing else in the kernel needs it',
      { path: '^kernel/', pathNot: '^kernel/ratelimit/' },
      { path: '^kernel/ratelimit/' },
    ),
    rule(
      'kernel-secrets-over-redis',
      'secrets: sealing, tenant keys from the installation secret, the store with its key file and Redis hash; nothing else of the kernel',
      { path: '^kernel/secrets/' },
      { path: '^kernel/', pathNot: '^kernel/(errors|redis|secrets)/' },
    ),
    rule(
      'kernel-tenant-below-stores',
      '',
      { path: '^kernel/tenant/' },
      { path: '^kernel/(registry|audit)/' },
    ),
    // Inside the router, low to high: identity, tenancy, auth|authz, tools, request, dispatch, pipeline, mcp, http, root files.
    rule(
      'router-identity-floor',
      'who is calling: everyone in the router needs it',
      { path: '^router/identity/' },
      { path: '^router/', pathNot: '^router/identity/' },
    ),
    rule(
      'router-metrics-floor',
      'counts what the other rooms report; knows none of them',
      { path: '^router/metrics/' },
      { path: '^router/', pathNot: '^router/metrics/' },
    ),
    rule(
      'router-tenancy',
      '',
      { path: '^router/tenancy/' },
      { path: '^router/', pathNot: '^router/(identity|tenancy)/' },
    ),
    rule(
      'router-auth',
      'authentication knows no tools, policy or dispatch',
      { path: '^router/auth/' },
      { path: `^router/(authz|tools|request|dispatch|pipeline|mcp|http)/|${ROOT_FILE}` },
    ),
    rule(
      'router-authz',
      'the pure policy',
      { path: '^router/authz/' },
      { path: `^router/(auth|tools|request|dispatch|pipeline|mcp|http)/|${ROOT_FILE}` },
    ),
    rule(
      'router-tools',
      'the served surface and its drift guard',
      { path: '^router/tools/' },
      { path: `^router/(auth|request|dispatch|pipeline|mcp|http)/|${ROOT_FILE}` },
    ),
    rule(
      'router-request',
      'one context per HTTP call, built from the rooms below it',
      { path: '^router/(request)/' },
      { path: `^router/(auth|dispatch|pipeline|mcp|http)/|${ROOT_FILE}` },
    ),
    rule(
      'router-dispatch',
      'dispatch consults the tool guard, never the pipeline',
      { path: '^router/dispatch/' },
      { path: `^router/(auth|authz|request|pipeline|mcp|http)/|${ROOT_FILE}` },
    ),
    rule(
      'router-pipeline',
      '',
      { path: '^router/pipeline/' },
      { path: `^router/(auth|mcp|http)/|${ROOT_FILE}` },
    ),
    rule('router-mcp', '', { path: '^router/mcp/' }, { path: `^router/(auth|http)/|${ROOT_FILE}` }),
    rule(
      'router-http',
      '',
      { path: '^router/http/' },
      { path: `^router/(mcp|pipeline|dispatch)/|${ROOT_FILE}` },
    ),
    // Inside the supervisor: port, lifecycle, adapters.
    rule(
      'supervisor-port-floor',
      'the RuntimeDriver port knows no policy and no adapter',
      { path: '^supervisor/runtime/' },
      { path: '^supervisor/(lifecycle|docker|verify|jobs|metrics)/|^supervisor/[^/]+[.]ts$' },
    ),
    rule(
      'supervisor-lifecycle-over-port',
      'the lifecycle decides through the port, never through Docker',
      { path: '^supervisor/lifecycle/' },
      { path: '^supervisor/(docker|verify|jobs|metrics)/|^supervisor/[^/]+[.]ts$' },
    ),
    rule(
      'docker-driver-is-a-plain-adapter',
      'no lifecycle policy inside the adapter',
      { path: '^supervisor/docker/' },
      { path: '^supervisor/(lifecycle|verify|jobs|metrics)/|^supervisor/[^/]+[.]ts$' },
    ),
    // Packages.
    rule(
      'router-never-holds-docker',
      'only the supervisor (and tests) talk to the Docker engine',
      { pathNot: '^(supervisor|test)/' },
      { path: 'node_modules/(dockerode|docker-modem)/' },
    ),
    rule(
      'dockerode-stays-in-the-adapter',
      '',
      { path: '^supervisor/', pathNot: '^supervisor/(docker|verify)/|^supervisor/(supervisor)[.]ts$' },
      { path: 'node_modules/(dockerode|docker-modem)/' },
    ),
    rule(
      'oidc-provider-is-dev-only',
      '',
      { pathNot: '^(dev|test)/' },
      { path: 'node_modules/oidc-provider/' },
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
