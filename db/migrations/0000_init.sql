CREATE SCHEMA "catalog";
--> statement-breakpoint
CREATE SCHEMA "inventory";
--> statement-breakpoint
CREATE SCHEMA "cart";
--> statement-breakpoint
CREATE SCHEMA "orders";
--> statement-breakpoint
CREATE SCHEMA "local_gateway";
--> statement-breakpoint
CREATE SCHEMA "payment";
--> statement-breakpoint
CREATE SCHEMA "notification";
--> statement-breakpoint
CREATE TABLE "catalog"."products" (
	"sku" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"category" text,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"price_amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"version" bigint DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "products_price_non_negative" CHECK ("catalog"."products"."price_amount" >= 0),
	CONSTRAINT "products_currency_upper" CHECK ("catalog"."products"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "inventory"."holds" (
	"hold_id" text NOT NULL,
	"sku" text NOT NULL,
	"quantity" integer NOT NULL,
	"status" text DEFAULT 'held' NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "holds_hold_id_sku_pk" PRIMARY KEY("hold_id","sku"),
	CONSTRAINT "holds_quantity_positive" CHECK ("inventory"."holds"."quantity" > 0),
	CONSTRAINT "holds_status_known" CHECK ("inventory"."holds"."status" in ('held', 'committed', 'released', 'expired'))
);
--> statement-breakpoint
CREATE TABLE "inventory"."restocks" (
	"restock_id" text NOT NULL,
	"sku" text NOT NULL,
	"quantity" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "restocks_restock_id_sku_pk" PRIMARY KEY("restock_id","sku"),
	CONSTRAINT "restocks_quantity_positive" CHECK ("inventory"."restocks"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "inventory"."stock" (
	"sku" text PRIMARY KEY NOT NULL,
	"on_hand" integer DEFAULT 0 NOT NULL,
	"reserved" integer DEFAULT 0 NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stock_on_hand_non_negative" CHECK ("inventory"."stock"."on_hand" >= 0),
	CONSTRAINT "stock_reserved_non_negative" CHECK ("inventory"."stock"."reserved" >= 0),
	CONSTRAINT "stock_reserved_within_on_hand" CHECK ("inventory"."stock"."reserved" <= "inventory"."stock"."on_hand"),
	CONSTRAINT "stock_sold_non_negative" CHECK ("inventory"."stock"."sold" >= 0)
);
--> statement-breakpoint
CREATE TABLE "cart"."carts" (
	"id" text PRIMARY KEY NOT NULL,
	"currency" char(3) NOT NULL,
	"email" text,
	"customer_id" text,
	"lines" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"version" bigint NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "carts_version_positive" CHECK ("cart"."carts"."version" > 0)
);
--> statement-breakpoint
CREATE TABLE "orders"."checkouts" (
	"checkout_id" text PRIMARY KEY NOT NULL,
	"cart_id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"email" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"workflow_id" text NOT NULL,
	"run_id" text,
	"order_id" text,
	"total_amount" bigint,
	"currency" char(3),
	"failure" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checkouts_status_known" CHECK ("orders"."checkouts"."status" in ('pending', 'placed', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "orders"."order_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"type" text NOT NULL,
	"from_status" text,
	"to_status" text,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders"."order_lines" (
	"order_id" text NOT NULL,
	"sku" text NOT NULL,
	"name" text NOT NULL,
	"quantity" integer NOT NULL,
	"unit_price_amount" bigint NOT NULL,
	"line_total_amount" bigint NOT NULL,
	CONSTRAINT "order_lines_order_id_sku_pk" PRIMARY KEY("order_id","sku"),
	CONSTRAINT "order_lines_quantity_positive" CHECK ("orders"."order_lines"."quantity" > 0),
	CONSTRAINT "order_lines_total" CHECK ("orders"."order_lines"."line_total_amount" = "orders"."order_lines"."unit_price_amount" * "orders"."order_lines"."quantity")
);
--> statement-breakpoint
CREATE TABLE "orders"."orders" (
	"id" text PRIMARY KEY NOT NULL,
	"checkout_id" text NOT NULL,
	"cart_id" text NOT NULL,
	"email" text NOT NULL,
	"customer_id" text,
	"status" text NOT NULL,
	"currency" char(3) NOT NULL,
	"total_amount" bigint NOT NULL,
	"shipping_address" jsonb,
	"status_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_total_non_negative" CHECK ("orders"."orders"."total_amount" >= 0)
);
--> statement-breakpoint
CREATE TABLE "local_gateway"."operations" (
	"idempotency_key" text PRIMARY KEY NOT NULL,
	"operation" text NOT NULL,
	"payment_ref" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"outcome" text NOT NULL,
	"decline_code" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."payments" (
	"id" text PRIMARY KEY NOT NULL,
	"checkout_id" text NOT NULL,
	"order_id" text,
	"gateway" text NOT NULL,
	"gateway_ref" text NOT NULL,
	"status" text NOT NULL,
	"currency" char(3) NOT NULL,
	"authorized_amount" bigint DEFAULT 0 NOT NULL,
	"captured_amount" bigint DEFAULT 0 NOT NULL,
	"refunded_amount" bigint DEFAULT 0 NOT NULL,
	"refund_pending_amount" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_status_known" CHECK ("payment"."payments"."status" in ('authorized', 'captured', 'voided', 'refunded', 'partially_refunded')),
	CONSTRAINT "payments_amounts_non_negative" CHECK ("payment"."payments"."authorized_amount" >= 0 and "payment"."payments"."captured_amount" >= 0 and "payment"."payments"."refunded_amount" >= 0 and "payment"."payments"."refund_pending_amount" >= 0),
	CONSTRAINT "payments_captured_within_authorized" CHECK ("payment"."payments"."captured_amount" <= "payment"."payments"."authorized_amount"),
	CONSTRAINT "payments_refunds_within_captured" CHECK ("payment"."payments"."refunded_amount" + "payment"."payments"."refund_pending_amount" <= "payment"."payments"."captured_amount")
);
--> statement-breakpoint
CREATE TABLE "payment"."refunds" (
	"id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"order_id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"reason" text NOT NULL,
	"lines" jsonb,
	"restock" text DEFAULT 'false' NOT NULL,
	"gateway_ref" text,
	"failure" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "refunds_amount_positive" CHECK ("payment"."refunds"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "notification"."outbox" (
	"idempotency_key" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"recipient" text NOT NULL,
	"subject" text NOT NULL,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"message_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "orders"."order_events" ADD CONSTRAINT "order_events_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."order_lines" ADD CONSTRAINT "order_lines_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "products_category_idx" ON "catalog"."products" USING btree ("category");--> statement-breakpoint
CREATE INDEX "products_search_idx" ON "catalog"."products" USING gin (to_tsvector('english', "name" || ' ' || "description" || ' ' || coalesce("category", '')));--> statement-breakpoint
CREATE INDEX "holds_expiry_idx" ON "inventory"."holds" USING btree ("expires_at") WHERE "inventory"."holds"."status" = 'held';--> statement-breakpoint
CREATE UNIQUE INDEX "checkouts_cart_key_uq" ON "orders"."checkouts" USING btree ("cart_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "order_events_order_idx" ON "orders"."order_events" USING btree ("order_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "orders_checkout_uq" ON "orders"."orders" USING btree ("checkout_id");--> statement-breakpoint
CREATE INDEX "orders_email_idx" ON "orders"."orders" USING btree ("email");--> statement-breakpoint
CREATE INDEX "orders_customer_idx" ON "orders"."orders" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "local_gateway_ops_ref_idx" ON "local_gateway"."operations" USING btree ("payment_ref");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_checkout_uq" ON "payment"."payments" USING btree ("checkout_id");--> statement-breakpoint
CREATE INDEX "payments_order_idx" ON "payment"."payments" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "refunds_order_key_uq" ON "payment"."refunds" USING btree ("order_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "outbox_recipient_idx" ON "notification"."outbox" USING btree ("recipient");