//! Suggestions are computed once per customer message (src/assist/suggest/store.rs): a row in
//! `assist_suggestion_sets`, unique on (conversation, message), claims the message before its
//! suggestions are stored, so two agents opening the page at once keep one set, and a message
//! for which nothing was found is remembered (`kept` 0) instead of searched on every view.
//! No text: only ids, the number kept and when. Existing duplicate sets are reduced to their
//! first copy, and every message that has suggestions gets its row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssistSuggestionSets {
    Table,
    Id,
    OrganizationId,
    ConversationId,
    MessageId,
    Kept,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AssistSuggestionSets::Table)
                    .col(big_pk_auto(AssistSuggestionSets::Id))
                    .col(big_integer(AssistSuggestionSets::OrganizationId))
                    .col(big_integer(AssistSuggestionSets::ConversationId))
                    .col(big_integer(AssistSuggestionSets::MessageId))
                    .col(integer(AssistSuggestionSets::Kept))
                    .col(timestamp_with_time_zone(AssistSuggestionSets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assist_suggestion_sets_organization")
                            .from(
                                AssistSuggestionSets::Table,
                                AssistSuggestionSets::OrganizationId,
                            )
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_assist_suggestion_sets_message")
                    .table(AssistSuggestionSets::Table)
                    .col(AssistSuggestionSets::ConversationId)
                    .col(AssistSuggestionSets::MessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Sets stored twice before this migration: keep each suggestion's first copy.
        db.execute_unprepared(
            "DELETE FROM assist_suggestions WHERE id NOT IN (SELECT MIN(id) FROM \
             assist_suggestions GROUP BY conversation_id, message_id, kind, source_id)",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO assist_suggestion_sets \
             (organization_id, conversation_id, message_id, kept, created_at) \
             SELECT organization_id, conversation_id, message_id, COUNT(*), MIN(created_at) \
             FROM assist_suggestions GROUP BY organization_id, conversation_id, message_id",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssistSuggestionSets::Table).to_owned())
            .await
    }
}
