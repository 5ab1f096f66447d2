/** Runs the CLI from the TypeScript sources (`npm run stixflow -- …`), without a build. */
import { runAsProcess } from './process.js';

await runAsProcess(process.argv.slice(2));
