// For NodeScriptTest: a script that ends before printing anything, with a message on standard error.
console.error('deliberate failure');
process.exit(3);
