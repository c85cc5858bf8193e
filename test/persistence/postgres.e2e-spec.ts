import { openPostgresDriver } from '../support/persistence-drivers';
import { openOncePerFile, persistenceContract, rawRlsContract } from './persistence-contract';
import { refreshTokensContract, refreshTokensRlsContract } from './refresh-tokens-contract';

// A fresh database on the real PostgreSQL server of the test run, opened once for the file.
const driver = openOncePerFile(openPostgresDriver);

persistenceContract('postgres', driver);
rawRlsContract('postgres', driver);
refreshTokensContract('postgres', driver);
refreshTokensRlsContract('postgres', driver);
