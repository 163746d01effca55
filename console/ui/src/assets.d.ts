// esbuild bundles the stylesheets a module imports into /assets/main.css.
declare module '*.css';
