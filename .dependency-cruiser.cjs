// Architecture rules (docs/architecture.md, "Rooms of the code"): router and supervisor meet only through the supervisor's
// client API and the contracts in tenants/; the runtime image depends on contracts only.
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'router-not-into-supervisor-internals',
      severity: 'error',
      from: { path: '^router/' },
      to: { path: '^supervisor/', pathNot: '^supervisor/client/' },
    },
    {
      name: 'supervisor-not-into-router',
      severity: 'error',
      from: { path: '^supervisor/' },
      to: { path: '^router/' },
    },
    {
      name: 'contracts-stand-alone',
      severity: 'error',
      from: { path: '^tenants/(contracts|registry)/' },
      to: { path: '^(router|supervisor|runtime-image|tenants/cli)/' },
    },
    {
      name: 'runtime-image-only-contracts',
      severity: 'error',
      from: { path: '^runtime-image/' },
      to: { path: '^(router|supervisor|tenants/cli)/' },
    },
    {
      name: 'router-never-holds-docker',
      comment:
        'Only the supervisor (and the tests) talk to the Docker engine (docs/architecture.md, "Trust boundaries").',
      severity: 'error',
      from: { pathNot: '^(supervisor|test)/' },
      to: { path: 'node_modules/(dockerode|docker-modem)/' },
    },
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
