// Hardhat 2 runs the devnet (`hardhat node`) and can compile with the one pinned compiler:
// the npm package `solc` (wasm). Hardhat would otherwise download a compiler list, which fails
// offline and on locked-down servers, so the build subtask returns the npm compiler.
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
const solcPackage = require("solc/package.json");
const solc = require("solc");

// Keep in step with api/chain/compiler.py (EVM_VERSION): one compiler, one target.
const EVM_VERSION = "cancun";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== solcPackage.version) {
    return runSuper();
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: solcPackage.version,
    longVersion: solc.version(),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: solcPackage.version,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
    },
  },
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: EVM_VERSION,
    },
  },
  paths: {
    sources: "./contracts",
    artifacts: "./build/hardhat/artifacts",
    cache: "./build/hardhat/cache",
  },
};
