// Loaded into each soak process (node --import): answers the soak's "memory" message with
// process.memoryUsage(), so that the soak can print V8's heap in use beside the process's RSS.
process.channel?.unref();
process.on('message', (message) => {
  if (message === 'memory') process.send?.(process.memoryUsage());
});
