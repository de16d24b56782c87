import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './src/database/data-source-options';

/** The TypeORM CLI's data source: `npm run migration:run` / `migration:generate` use DATABASE_URL. */
const url = process.env.DATABASE_URL;
if (!url) {
  throw new Error('DATABASE_URL must be set for the TypeORM CLI (e.g. postgres://postgres@127.0.0.1:5432/provisio)');
}
export default new DataSource(dataSourceOptions(url));
