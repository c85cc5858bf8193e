import { openEmbeddedDriver } from '../support/persistence-drivers';
import { openOncePerFile, persistenceContract, rawRlsContract } from './persistence-contract';
import { refreshTokensContract, refreshTokensRlsContract } from './refresh-tokens-contract';

// The embedded engine (PGlite in a worker thread behind a Unix socket), opened once for the file.
const driver = openOncePerFile(openEmbeddedDriver);

persistenceContract('embedded', driver);
rawRlsContract('embedded', driver);
refreshTokensContract('embedded', driver);
refreshTokensRlsContract('embedded', driver);
